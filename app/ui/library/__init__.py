"""The model library page: the catalog (size, needs, fit here, verification), downloads with
pause/resume/cancel, import of a GGUF file, and deletion."""

from app.ui.library.page import LibraryPage

__all__ = ["LibraryPage"]
