"""Computing OCR text and embeddings once per poster and keeping them in a content-addressed cache."""
