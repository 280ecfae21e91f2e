"""In-memory stand-ins for stores, for tests that need a store's read side with chosen contents."""
