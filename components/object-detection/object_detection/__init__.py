"""ggvision.ObjectDetection: the component's own logic (settings, service, continuous and service
modes, counts, motion gate). Shared behaviour lives in the `ggvision` library."""
