"""HTTP plumbing every surface shares: the JSON error contract (`errors`), body reading and JSON
answers (`http`), the request-context middleware and access log (`middleware`), request ids
(`request_ids`) and one-route-per-path dispatch (`routing`)."""
