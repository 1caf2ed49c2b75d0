"""Using a trained model: safe checkpoint loading, preprocessing, face detection, media
reading, recognition and ONNX export (``fer-lightning recognize`` / ``export``)."""
