"""Local inference: the llama.cpp engine host, model library, downloads and hardware probe."""
