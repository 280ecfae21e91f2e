"""`kx-edge serve --demo`: a demo site, a sandbox Klaviyo and a storefront, wired for real."""
