"""Models as Hugging Face folders: tiny LLaMA shapes and loading safetensors only (`folders`), the
chat format and loss masks (`chat`), the byte-level BPE trained offline (`tokenizer`), real models
adapted to the chat format (`pretrained`), epoch checkpoints written atomically and checked on load
(`checkpoints`), and FSDP sharding (`sharding`). May import `core`, `params`, `items`."""
