"""ggvision.CameraCapture: open sources, keep the newest frame, announce it at a paced rate."""
