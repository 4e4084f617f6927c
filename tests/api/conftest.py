from tests.web.world import fast_passwords, world

__all__ = ["fast_passwords", "world"]
