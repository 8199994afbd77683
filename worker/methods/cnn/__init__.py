"""ImageNet CNNs as feature extractors: similarity is the cosine of their pooled embeddings.

One class (``CnnMethod``), three configurations (``CNN_SPECS``). The parts, one job each:

* ``specs``: the three networks as data;
* ``weights``: finding the weight file, building the network with it, the fingerprint that keys
  calibration; the client-facing reason when the file is missing;
* ``canvas``: where each image sits in the network's input and which feature places it covers;
* ``features``: the similarity maths on feature maps (NumPy only);
* ``runtime``: the loaded network with its batcher and the embedding cache (the only place that
  imports TensorFlow);
* ``method``: the comparison method, its state and everything a client reads about it.
"""

from worker.methods.cnn.canvas import canvas_size, fit_into_canvas
from worker.methods.cnn.method import CnnMethod
from worker.methods.cnn.runtime import embedding_cache
from worker.methods.cnn.specs import CNN_SPECS, CnnSpec

__all__ = ["CNN_SPECS", "CnnMethod", "CnnSpec", "canvas_size", "embedding_cache", "fit_into_canvas"]
