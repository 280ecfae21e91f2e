"""The OAuth connect surface: "Sign in with Klaviyo" from the first click to an active connection.

link.py     the app's Klaviyo objects (OAuth client, connect flow, token manager, resolver,
            segment sync), built from the settings in the lifespan
routes.py   connect, callback, result page, status, disconnect
pages.py    the small HTML pages a merchant sees at the end of the flow
"""
