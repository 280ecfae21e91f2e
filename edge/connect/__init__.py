"""The OAuth connect surface: "Sign in with Klaviyo" from the first click to an active connection.

link.py     the app's Klaviyo objects (OAuth client, connect flow, token manager, resolver,
            segment sync), built from the settings in the lifespan
routes.py   connect, status, disconnect (the API), and the list of every route here
browser.py  what the merchant's browser walks through: connect link, callback, result page
binding.py  the browser's binding cookie and the result page's ticket
pages.py    the Jinja pages (templates/) and their security headers
"""
