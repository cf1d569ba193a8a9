"""The Train panel's epoch axis ticks whole epochs: there is no epoch 1.5."""

from gender_desktop.ui.plots import EpochAxis


def test_a_short_run_is_ticked_every_epoch_and_a_long_one_every_ten(qapp):
    axis = EpochAxis(orientation="bottom")
    assert axis.tickValues(0, 6, 700) == [(1.0, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])]
    major = axis.tickValues(0, 60, 700)[0]
    assert major == (10.0, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    for _spacing, values in axis.tickValues(0, 2.5, 700):
        assert all(v == int(v) for v in values)
