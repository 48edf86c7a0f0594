"""The registry: wildcard listing, "did you mean" lookup, duplicates naming both plugins."""

import pytest

import ganzoo
from ganzoo.registry import DuplicateNameError, Registry, UnknownNameError, Variant, resolve_ref


def _variant(name: str) -> Variant:
    return Variant(name, "s", "p", config="x:y", build="x:y", step="x:y")


def test_listing_is_sorted_and_filtered_by_fnmatch():
    reg = Registry("variant")
    for name in ["wgan-gp", "dcgan", "vanilla", "cyclegan"]:
        reg.add(_variant(name), plugin="p")
    assert reg.names() == ["cyclegan", "dcgan", "vanilla", "wgan-gp"]
    assert reg.names("*gan*") == ["cyclegan", "dcgan", "wgan-gp"]
    assert reg.names("?gan") == []
    assert reg.names("d*") == ["dcgan"]


def test_unknown_name_suggests_close_matches():
    reg = Registry("variant")
    reg.add(_variant("wgan-gp"), plugin="p")
    reg.add(_variant("dcgan"), plugin="p")
    with pytest.raises(UnknownNameError, match=r"unknown variant 'wgangp'; did you mean 'wgan-gp'\?"):
        reg.get("wgangp")
    with pytest.raises(UnknownNameError) as info:
        reg.get("zzz")
    assert "did you mean" not in str(info.value) and "ganzoo list" in str(info.value)


def test_duplicate_names_are_refused_naming_both_plugins():
    reg = Registry("variant")
    reg.add(_variant("dcgan"), plugin="dcgan")
    with pytest.raises(
        DuplicateNameError, match="'dcgan' from plugin 'copycat' is already registered by plugin 'dcgan'"
    ):
        reg.add(_variant("dcgan"), plugin="copycat")
    assert reg.get("dcgan").plugin == "dcgan"


def test_entries_record_their_plugin():
    assert ganzoo.info("dcgan").plugin == "dcgan"
    assert ganzoo.info("wgan-gp").plugin == "wgan-gp"


def test_builtin_variants_are_listed():
    assert ganzoo.list_variants() == [
        "biggan",
        "cyclegan",
        "dcgan",
        "pix2pix",
        "sngan",
        "stylegan2",
        "vanilla",
        "wgan-gp",
    ]
    assert ganzoo.list_variants("*gan") == ["biggan", "cyclegan", "dcgan", "sngan"]


def test_info_unknown_name_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'dcgan'"):
        ganzoo.info("dcgn")


def test_resolve_ref_imports_lazily_named_objects():
    assert resolve_ref("os.path:join") is __import__("os").path.join
    with pytest.raises(ValueError, match="package.module:attr"):
        resolve_ref("os.path.join")
