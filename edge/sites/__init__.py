"""Sites: identifiers and keys (`keys`), and each site's compiled storefront runtime (`runtime`)."""
