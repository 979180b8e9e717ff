"""The upstream sync: the catalogue brought in line with the pinned genai-prices snapshot."""
