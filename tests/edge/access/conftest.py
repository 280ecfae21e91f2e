"""Sessions and CSRF are exercised through the merchant page's sign-in, with its fixtures."""

from tests.edge.admin.conftest import client, clock, settings, site

__all__ = ["client", "clock", "settings", "site"]
