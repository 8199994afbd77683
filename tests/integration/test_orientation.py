"""Through the real service: turned and mirrored copies are compared on the matching
orientation, and the result says how B relates to A."""

from __future__ import annotations

import numpy as np

from tests.support.images import coffee, png
from tests.support.service import Service


def test_a_quarter_turned_copy_reads_near_duplicate_and_says_so(service: Service) -> None:
    a = coffee()
    turned = np.ascontiguousarray(np.rot90(a, 1))  # counter-clockwise
    for method in ("ssim", "pixel", "phash", "mobilenet_v2"):
        result = service.compare(png(a), png(turned), method)
        assert result["verdict"] == "near-duplicate", (method, result["explanation"])
        relation = result["relation"]
        assert relation["found_by"] == ["orientation"], method
        assert (relation["rotation_deg"], relation["mirrored"]) == (90.0, False)
        assert "quarter turn counter-clockwise" in result["explanation"]
    as_given = service.compare(png(a), png(turned), "ssim", align="false")
    assert as_given["relation"] is None and as_given["verdict"] != "near-duplicate"


def test_a_mirror_image_is_recognised_but_never_identical(service: Service) -> None:
    a = coffee()
    result = service.compare(png(a), png(np.ascontiguousarray(a[:, ::-1])), "phash")
    assert result["relation"]["mirrored"] and result["score"] == 1.0
    assert result["verdict"] == "near-duplicate"  # the pixels match only once mirrored back
    everything = service.compare(png(a), png(np.ascontiguousarray(a[:, ::-1])), "all")
    assert everything["relation"]["mirrored"]
    assert all(r["verdict"] != "identical" for r in everything["results"])


def test_a_turned_crop_is_registered_with_its_turn_and_coverage(service: Service) -> None:
    a = coffee()  # 600 x 400
    crop = a[40:360, 60:540]  # 80 % of each side
    result = service.compare(png(a), png(np.ascontiguousarray(np.rot90(crop, 1))), "ssim")
    relation = result["relation"]
    assert "registration" in relation["found_by"], result["explanation"]
    assert abs(abs(relation["rotation_deg"]) - 90) < 1
    assert 55 < relation["crop_coverage_percent"] < 70  # 0.8 x 0.8 = 64 %
