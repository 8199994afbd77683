"""The baseline: the original single-process app this service replaces, so that every
throughput ratio ``bench/run.py`` prints is against the product it replaces, not a weaker one.

What it reproduces, step by step:

* Serving. The original was a Flask app on Flask's development server, which is werkzeug's
  ``run_simple`` with ``threaded=True``: one process, one thread per connection, so concurrent
  requests run in parallel threads (their OpenCV, NumPy, SciPy and TensorFlow work releases the
  GIL for much of the time). This runs that very server, werkzeug's ``make_server(threaded=True)``
  (what ``run_simple`` starts, without the reloader), and werkzeug's form parsing (what Flask's
  ``request.files`` is: a file part over 500 KB spools to a temporary file), with werkzeug's
  access log on stderr as Flask's. Flask itself is not installed here; werkzeug comes with the
  test dependencies (through schemathesis), which ``make bench`` installs. A FastAPI app with plain ``def`` routes under uvicorn would also run
  requests on threads, but through another server and another parser, so it is not used.
* The form: fields ``image1``, ``image2``, ``model`` (default ``ssim``), as the legacy
  ``POST /compare``; the answer has its keys: ``similarity_score``, ``model_used``,
  ``heatmap_image``. Images are decoded with Pillow and converted to RGB.
* CNNs (``vgg16``, ``resnet50``, ``mobilenet_v2``), per image: resized to 224x224 ignoring the
  aspect ratio (OpenCV, bilinear), the network's own ``preprocess_input``, Keras
  ``Model.predict`` on a batch of one, global average pooling (``pooling="avg"``); the score is
  the cosine of the two vectors. The networks are built once, at start, each with one warm-up
  ``predict``, so no measured request pays Keras's one-time tracing (the service also warms its
  networks before it says it is ready). Weights: the same rule as the service under the
  benchmark, the ImageNet file from ``--weights`` where it exists (MobileNetV2 here), otherwise
  a random initialisation with a fixed seed (VGG16, ResNet50 here), which runs at the same
  speed; so both sides run the same networks.
* SSIM: both images converted to grey and resized to the width and height of the smaller one
  (by pixel count), then scikit-image's ``structural_similarity`` with its defaults: a 7x7
  uniform window, no Gaussian weighting, sample covariance, no downsampling, the data range
  of ``uint8``.
* A heatmap for every method, CNNs too: the absolute difference of the two grey images as
  resized for SSIM, through OpenCV's JET colour map, encoded as PNG, as a base64 data URL.

Run by ``bench/run.py``; not part of the product.

    python bench/naive_server.py --port 8100 [--weights DIR] [--lazy]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

WEIGHT_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "mobilenet_v2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
}
CNN_SIDE = 224


class Networks:
    """The three Keras networks, built at start, or on first use with ``lazy`` (so that an
    SSIM-only run never imports TensorFlow)."""

    def __init__(self, weights: Path, lazy: bool) -> None:
        self.weights = weights
        self.loaded: dict[str, tuple[Any, Callable[[np.ndarray], np.ndarray]]] = {}
        self.lock = threading.Lock()
        if not lazy:
            for name in WEIGHT_FILES:
                self.get(name)

    def get(self, name: str) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
        with self.lock:
            if name not in self.loaded:
                self.loaded[name] = self._build(name)
            return self.loaded[name]

    def _build(self, name: str) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
        import keras
        from keras.applications import mobilenet_v2, resnet50, vgg16

        build, preprocess = {
            "vgg16": (vgg16.VGG16, vgg16.preprocess_input),
            "resnet50": (resnet50.ResNet50, resnet50.preprocess_input),
            "mobilenet_v2": (mobilenet_v2.MobileNetV2, mobilenet_v2.preprocess_input),
        }[name]
        path = self.weights / WEIGHT_FILES[name]
        keras.utils.set_random_seed(1234)
        model = build(
            weights=str(path) if path.is_file() else None,
            include_top=False,
            pooling="avg",
            input_shape=(CNN_SIDE, CNN_SIDE, 3),
        )
        model.predict(np.zeros((1, CNN_SIDE, CNN_SIDE, 3), np.float32), verbose=0)
        return model, preprocess


def read_rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def grey_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images in grey, at the width and height of the smaller one."""
    grey_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    grey_b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    smaller = min(grey_a, grey_b, key=lambda grey: grey.size)
    size = (smaller.shape[1], smaller.shape[0])
    return cv2.resize(grey_a, size), cv2.resize(grey_b, size)


def heatmap_data_url(grey_a: np.ndarray, grey_b: np.ndarray) -> str:
    heat = cv2.applyColorMap(cv2.absdiff(grey_a, grey_b), cv2.COLORMAP_JET)
    _ok, png = cv2.imencode(".png", heat)
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


def cnn_score(networks: Networks, name: str, a: np.ndarray, b: np.ndarray) -> float:
    network, preprocess = networks.get(name)
    vectors = []
    for image in (a, b):
        resized = cv2.resize(image, (CNN_SIDE, CNN_SIDE)).astype(np.float32)
        vectors.append(network.predict(preprocess(resized[None]), verbose=0)[0])
    u, v = vectors
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))


def json_response(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def create_app(weights: Path, lazy: bool = False) -> Callable[..., Any]:
    """The WSGI app: ``POST /compare`` and ``GET /health``."""
    networks = Networks(weights, lazy)

    def compare(request: Request) -> Response:
        model = request.form.get("model", "ssim")
        if model != "ssim" and model not in WEIGHT_FILES:
            return json_response({"error": f"unknown model {model!r}"}, 400)
        if "image1" not in request.files or "image2" not in request.files:
            return json_response({"error": "image1 and image2 are required"}, 400)
        try:
            a = read_rgb(request.files["image1"].read())
            b = read_rgb(request.files["image2"].read())
        except OSError as exc:
            return json_response({"error": f"not an image: {exc}"}, 400)
        grey_a, grey_b = grey_pair(a, b)
        if model == "ssim":
            score = float(structural_similarity(grey_a, grey_b))
        else:
            score = cnn_score(networks, model, a, b)
        return json_response(
            {
                "similarity_score": score,
                "model_used": model,
                "heatmap_image": heatmap_data_url(grey_a, grey_b),
            }
        )

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        if request.path == "/compare" and request.method == "POST":
            return compare(request)
        if request.path == "/health":
            return json_response({"status": "ok"})
        return json_response({"error": "not found"}, 404)

    return app


def serve(app: Callable[..., Any], port: int) -> BaseWSGIServer:
    """Flask's development server as ``app.run()`` starts it: werkzeug's, one thread per
    connection. ``port=0`` picks a free one (``server.port``)."""
    return make_server("127.0.0.1", port, app, threaded=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--weights", type=Path, default=Path("../shared/weights"))
    parser.add_argument("--lazy", action="store_true", help="build each network on first use")
    args = parser.parse_args()
    serve(create_app(args.weights, args.lazy), args.port).serve_forever()


if __name__ == "__main__":
    main()
