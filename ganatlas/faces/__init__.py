"""Face analysis: detection, landmarks and identity embeddings (InsightFace or dlib backends)."""
