"""The remote-command channel codec and the error channel's Status (core/kube_streams), pure."""

from __future__ import annotations

import orjson
import pytest

from dockyard.core import kube_streams as ks


def test_frames_carry_the_channel_in_their_first_byte() -> None:
    assert ks.encode(ks.STDOUT, b"hi\n") == b"\x01hi\n"
    assert ks.encode(ks.STDIN) == b"\x00"
    assert ks.decode(b"\x02oops") == ks.Frame(ks.STDERR, b"oops")
    assert ks.decode(b"\x01") == ks.Frame(ks.STDOUT, b"")
    with pytest.raises(ks.FrameError):
        ks.decode(b"")
    with pytest.raises(ValueError):
        ks.encode(256, b"")


def test_v5_close_names_the_channel_it_half_closes() -> None:
    assert ks.close_frame(ks.STDIN) == b"\xff\x00"
    assert ks.decode(b"\xff\x00").closes == ks.STDIN
    assert ks.decode(b"\x00\x00").closes is None
    with pytest.raises(ks.FrameError):
        ks.decode(b"\xff")
    with pytest.raises(ks.FrameError):
        ks.decode(b"\xff\x00\x01")


def test_negotiation_follows_the_clients_order() -> None:
    supported = (ks.V5_PROTOCOL, ks.V4_PROTOCOL)
    assert ks.negotiate(["v4.channel.k8s.io", "v5.channel.k8s.io"], supported) == ks.V4_PROTOCOL
    assert ks.negotiate(["v5.channel.k8s.io"], supported) == ks.V5_PROTOCOL
    assert ks.negotiate(["channel.k8s.io", "base64.channel.k8s.io"], supported) is None
    assert ks.negotiate([], supported) is None


def test_resize_messages() -> None:
    assert ks.parse_resize(b'{"Width":120,"Height":40}') == (40, 120)
    for bad in (b"", b"{}", b'{"Width":"x","Height":1}', b"[1]"):
        with pytest.raises(ValueError):
            ks.parse_resize(bad)


def test_exit_status_as_the_kubelet_writes_it_and_client_go_reads_it() -> None:
    assert ks.exit_status(0, ["true"]) == {"metadata": {}, "status": "Success"}
    failed = ks.exit_status(3, ["sh", "-c", "exit 3"])
    assert failed == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], "
        "exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    assert ks.exit_code_of(failed) == 3
    assert ks.exit_code_of(ks.success_status()) == 0
    frame = ks.decode(ks.status_frame(failed))
    assert frame.channel == ks.ERROR
    assert orjson.loads(frame.data) == failed


def test_internal_error_status_is_apimachinerys() -> None:
    status = ks.internal_error_status("error dialing backend: connection refused")
    assert status["message"] == "Internal error occurred: error dialing backend: connection refused"
    assert status["reason"] == "InternalError"
    assert status["code"] == 500
    assert status["details"] == {"causes": [{"message": "error dialing backend: connection refused"}]}
    assert ks.exit_code_of(status) is None
