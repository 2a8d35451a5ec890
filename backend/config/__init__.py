from backend.config.settings import Settings

__all__ = ["Settings"]
