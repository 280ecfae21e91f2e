"""What operators look at: liveness and readiness (`health`) and the service's logs (`logs`)."""
