"""The baseline: what a straightforward implementation of the product does.

One process, one request at a time, Keras ``Model.predict`` called separately for each image
(resized to 224x224), scikit-image's SSIM on the full-resolution grey images, a heatmap PNG for
SSIM. Same weights as the real service. Run by ``bench/run.py``; not part of the product.

    python bench/naive_server.py --port 8100 [--weights DIR]
"""

from __future__ import annotations

import argparse
import base64
import io
import threading
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import uvicorn
from fastapi import FastAPI, File, Form, UploadFile
from PIL import Image
from skimage.metrics import structural_similarity

WEIGHT_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "mobilenet_v2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
}


def load_models(weights: Path) -> dict:
    import keras
    from keras.applications import mobilenet_v2, resnet50, vgg16

    builders = {
        "vgg16": (vgg16.VGG16, vgg16.preprocess_input),
        "resnet50": (resnet50.ResNet50, resnet50.preprocess_input),
        "mobilenet_v2": (mobilenet_v2.MobileNetV2, mobilenet_v2.preprocess_input),
    }
    models = {}
    for name, (build, preprocess) in builders.items():
        path = weights / WEIGHT_FILES[name]
        keras.utils.set_random_seed(1234)
        model = build(
            weights=str(path) if path.is_file() else None,
            include_top=False,
            pooling="avg",
            input_shape=(224, 224, 3),
        )
        models[name] = (model, preprocess)
    return models


def create_app(weights: Path) -> FastAPI:
    app = FastAPI()
    models = load_models(weights)
    one_at_a_time = threading.Lock()

    def read(upload: UploadFile) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(upload.file.read())).convert("RGB"))

    @app.post("/compare")
    def compare(
        image1: Annotated[UploadFile, File()],
        image2: Annotated[UploadFile, File()],
        model: Annotated[str, Form()] = "ssim",
    ) -> dict:
        with one_at_a_time:
            a, b = read(image1), read(image2)
            if model == "ssim":
                grey_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
                grey_b = cv2.resize(
                    cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), (grey_a.shape[1], grey_a.shape[0])
                )
                score, ssim_map = structural_similarity(
                    grey_a,
                    grey_b,
                    data_range=255,
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                    full=True,
                )
                levels = np.clip((1 - ssim_map) * 255, 0, 255).astype(np.uint8)
                heat = cv2.applyColorMap(levels, cv2.COLORMAP_JET)
                _ok, png = cv2.imencode(".png", heat)
                heatmap = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()
                return {
                    "similarity_score": float(score),
                    "model_used": model,
                    "heatmap_image": heatmap,
                }
            network, preprocess = models[model]
            embeddings = []
            for image in (a, b):
                resized = cv2.resize(image, (224, 224)).astype(np.float32)
                batch = preprocess(resized[None])
                embeddings.append(network.predict(batch, verbose=0)[0])
            u, v = embeddings
            score = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))
            return {"similarity_score": score, "model_used": model, "heatmap_image": ""}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--weights", type=Path, default=Path("../shared/weights"))
    args = parser.parse_args()
    uvicorn.run(create_app(args.weights), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
