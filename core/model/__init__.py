"""Float ONNX models → INT8 (onnxruntime QDQ), validation reports, the integer path and blobs.

Modules: ``onnx_io`` (load, check, float run), ``calibration`` and ``quantize`` (quantize_static),
``report`` (float vs INT8 validation), ``samples`` (the sample models), ``cli``; the integer
executor, IR, blob, arena and budgets live beside them.
"""
