"""Model backends: local models (ONNX, scikit-learn via skops, PyTorch state_dict) and an
upstream HTTP model server. Local models are loaded only by :mod:`.loader`, after verification."""
