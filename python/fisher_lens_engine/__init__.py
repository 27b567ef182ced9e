"""Fisher Lens PyTorch engine: the TS trainer's maths on PyTorch (see python/README.md)."""
import warnings

# torch 2.x warns when it is imported without NumPy ("Failed to initialize NumPy"). The engine never uses NumPy,
# so this one warning is noise in every run's log: ignored here, before any module imports torch. Any other
# warning is still shown.
warnings.filterwarnings("ignore", message=r"Failed to initialize NumPy", category=UserWarning)

__version__ = "0.1.0"


def __getattr__(name):
    # The user API imports torch: loaded on first use, so the package imports without torch (the doctor).
    if name == "Monitor":
        from .monitor import Monitor
        return Monitor
    if name == "UnsupportedModelError":
        from .module_fisher import UnsupportedModelError
        return UnsupportedModelError
    raise AttributeError(f"module 'fisher_lens_engine' has no attribute {name!r}")
