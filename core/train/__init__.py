"""Training in the app: float training, quantization-aware fine-tuning, thresholds.

PyTorch is an optional extra (``pip install 'fieldbench[train]'``). Modules that need it
(``fakequant``, ``nets``, ``loop``, ``pipeline``) import it lazily through ``backend``; the
rest (``config``, ``data``, ``thresholds``, ``compare``) import without it, so the app and the
CLI work and can explain how to enable training.

Flow (``pipeline.run_training``): dataset split → on-the-fly augmented feature windows → float
training → export float ONNX → PTQ (``core.model.quantize``) → QAT fine-tuning with fake
quantization that matches onnxruntime's INT8 arithmetic → export float ONNX + the QAT ranges →
``quantize_model`` with those ranges as ``TensorQuantOverrides`` → the same validation report →
thresholds at a target false-alarm rate → everything moved into the workspace at once.
"""
