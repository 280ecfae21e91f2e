"""Settings: the one reader (`loading`) and the secrets generated for a local run (`local_secrets`)."""

from edge.settings.loading import SECRET_ENV, LoadResult, Settings, SettingsError, load_settings

__all__ = ["SECRET_ENV", "LoadResult", "Settings", "SettingsError", "load_settings"]
