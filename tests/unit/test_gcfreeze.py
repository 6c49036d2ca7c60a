"""Freezing the survivors of full GC passes (opt-in)."""

import gc

from sockjs_gevent import gcfreeze


def test_survivors_of_a_full_pass_are_frozen_until_disabled():
    gc.unfreeze()
    gcfreeze.enable()
    gcfreeze.enable()  # idempotent
    try:
        assert gc.callbacks.count(gcfreeze._after_full_pass) == 1
        survivor = [object()]
        gc.collect()  # a full pass
        assert gc.get_freeze_count() > 0
        gc.collect(0)  # young passes leave the frozen set alone
        assert gc.get_freeze_count() > 0
        del survivor
    finally:
        gcfreeze.disable()
    assert not gcfreeze.enabled()
    assert gc.get_freeze_count() == 0
