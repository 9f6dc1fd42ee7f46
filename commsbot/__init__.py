"""commsbot: the communications bot of a network of cross-innovation cities."""

__version__ = "0.1.0"
