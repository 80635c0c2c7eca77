"""Settings dataclasses: parsing, one clear error naming key/value/allowed, live vs restart changes."""

from dataclasses import dataclass
from typing import List, Optional

import pytest
from ggvision.config import ConfigError, changed_settings, parse_config, setting
from ggvision.config import validators as v


@dataclass(frozen=True)
class CameraSettings:
    camera_id: str = setting("CameraId", v.string(pattern=r"^[A-Za-z0-9_-]{1,64}$"))
    frame_rate: float = setting("FrameRate", v.number(minimum=0.1, maximum=240), live=True)
    max_width: Optional[int] = setting("MaxWidth", v.optional(v.integer(minimum=16)))
    transport: str = setting("Transport", v.one_of(["shm", "jpeg"]))


@dataclass(frozen=True)
class Settings:
    cameras: List[CameraSettings] = setting("Cameras", v.list_of(v.nested(CameraSettings), min_items=1))
    topic: str = setting("FramesTopic", v.topic(["CameraId"]))
    subscribe: str = setting("Subscribe", v.topic_filter())
    enabled: bool = setting("Enabled", v.boolean(), live=True)


GOOD = {
    "Cameras": [{"CameraId": "front", "FrameRate": 5, "Transport": "shm"}],
    "FramesTopic": "ggvision/cameras/{CameraId}/frames",
    "Subscribe": "ggvision/cameras/+/frames",
    "Enabled": True,
}


def with_camera(**changes):
    camera = dict(GOOD["Cameras"][0], **changes)
    return dict(GOOD, Cameras=[camera])


def test_valid_configuration_becomes_typed_settings():
    settings = parse_config(Settings, GOOD)
    assert settings.cameras[0] == CameraSettings("front", 5.0, None, "shm")
    assert settings.enabled is True


def test_console_style_strings_are_accepted_for_numbers_and_booleans():
    settings = parse_config(Settings, dict(with_camera(FrameRate="2.5", MaxWidth="640"), Enabled="false"))
    assert settings.cameras[0].frame_rate == 2.5
    assert settings.cameras[0].max_width == 640
    assert settings.enabled is False


@pytest.mark.parametrize(
    "raw, message",
    [
        (with_camera(FrameRate=-1), "Cameras[0].FrameRate = -1 (allowed: a number from 0.1 to 240)"),
        (with_camera(FrameRate=float("nan")), "Cameras[0].FrameRate = nan"),
        # Non-finite values, as text or as numbers, are one clear line, not a traceback (#9 point 4).
        (with_camera(MaxWidth="NaN"), "Cameras[0].MaxWidth = 'NaN' (allowed: a whole number of at least 16)"),
        (with_camera(MaxWidth="inf"), "Cameras[0].MaxWidth = 'inf' (allowed: a whole number of at least 16)"),
        (with_camera(MaxWidth="1e999"), "Cameras[0].MaxWidth = '1e999' (allowed: a whole number of at least"),
        (with_camera(MaxWidth=10 ** 400), "Cameras[0].MaxWidth = 1000"),
        (with_camera(FrameRate="inf"), "Cameras[0].FrameRate = 'inf' (allowed: a number from 0.1 to 240)"),
        (with_camera(CameraId="a b"), "Cameras[0].CameraId = 'a b'"),
        (with_camera(Transport="udp"), "Cameras[0].Transport = 'udp' (allowed: one of shm, jpeg)"),
        (with_camera(MaxWidth=8), "Cameras[0].MaxWidth = 8 (allowed: a whole number of at least 16)"),
        (dict(GOOD, Cameras=[]), "Cameras = [] (allowed: a list of 1 to 1000 items)"),
        (dict(GOOD, FramesTopic="a/#"), "FramesTopic = 'a/#'"),
        (dict(GOOD, FramesTopic="a/{Nope}"), "FramesTopic = 'a/{Nope}'"),
        (dict(GOOD, Subscribe="a/b#"), "Subscribe = 'a/b#'"),
        (dict(GOOD, Enabled="yes"), "Enabled = 'yes' (allowed: true or false)"),
        ({k: x for k, x in GOOD.items() if k != "Enabled"}, "Enabled = <missing> (allowed: required;"),
        ("not an object", "<root> = 'not an object'"),
    ],
)
def test_invalid_value_gives_one_message_naming_key_value_and_allowed(raw, message):
    with pytest.raises(ConfigError) as raised:
        parse_config(Settings, raw)
    text = str(raised.value)
    assert text.startswith("Invalid configuration: ")
    assert message in text
    assert "\n" not in text


def test_changes_are_classified_live_or_restart():
    old = parse_config(Settings, GOOD)
    assert changed_settings(old, parse_config(Settings, dict(GOOD, Enabled=False))) == {"Enabled": True}
    # A nested live setting still changes the whole Cameras list, which is not live: rebuild.
    assert changed_settings(old, parse_config(Settings, with_camera(FrameRate=9))) == {"Cameras": False}
    assert changed_settings(old, parse_config(Settings, GOOD)) == {}


def _no_secrets(value):
    if isinstance(value, str) and "@" in value:
        raise v.Invalid("a token name, never the token itself", "", "<redacted>", nested=True)
    return value


@dataclass(frozen=True)
class SecretSettings:
    token: str = setting("Token", _no_secrets)


def test_a_validator_can_show_the_setting_with_a_value_of_its_choice():
    with pytest.raises(ConfigError) as raised:
        parse_config(SecretSettings, {"Token": "user:secret@host"})
    assert str(raised.value) == ("Invalid configuration: Token = '<redacted>' "
                                 "(allowed: a token name, never the token itself)")
    assert "secret" not in str(raised.value)
