"""The one schema of the detection tables (one row per image) and the report's CSV columns."""

from __future__ import annotations

import pyarrow as pa

#: Columns of every detection Parquet file (per shard and merged), in this order.
#: bbox: [4] x1, y1, x2, y2 of the best face (pixels of the original image); kps: [10] its five
#: keypoints flattened x0, y0, ..., x4, y4 (left eye, right eye, nose, left and right mouth corner
#: as seen in the image); embedding: [D] L2-normalised identity embedding of the best face (512
#: for ArcFace, 128 for dlib), null without a face or without a recogniser; error: null unless
#: the image could not be read (then detected is false and score 0.0).
DETECTION_SCHEMA = pa.schema(
    [
        pa.field("filename", pa.string(), nullable=False),
        pa.field("seed", pa.int64()),
        pa.field("step", pa.int64()),
        pa.field("distance", pa.float64()),
        pa.field("detected", pa.bool_(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("num_faces", pa.int32(), nullable=False),
        pa.field("bbox", pa.list_(pa.float32())),
        pa.field("kps", pa.list_(pa.float32())),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("det_size", pa.int32(), nullable=False),
        pa.field("backend", pa.string(), nullable=False),
        pa.field("models", pa.string(), nullable=False),
        pa.field("error", pa.string()),
    ]
)

#: Header of the CSV the user's report used (``detections.csv``).
REPORT_CSV_COLUMNS = ["Filename", "score", "embeddings"]
