"""ggvision: the shared library of the ggvision Greengrass components.

Config, IPC, message contracts, frame transport, model runtimes and image operations live here once;
every component's `main.py` builds on them.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so `import ggvision` stays cheap for tools that only need contracts or config.
    if name == "InferenceClient":
        from .inference import InferenceClient

        return InferenceClient
    raise AttributeError(name)
