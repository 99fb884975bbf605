"""Face analysis: detection, landmarks and identity embeddings (InsightFace, MTCNN or dlib backends)."""
