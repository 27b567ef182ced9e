"""Fisher Lens PyTorch engine: the TS trainer's maths on PyTorch (see python/README.md)."""
__version__ = "0.1.0"
