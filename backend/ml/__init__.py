"""Model layer: image encoders and detectors behind one small interface (no DB imports)."""
