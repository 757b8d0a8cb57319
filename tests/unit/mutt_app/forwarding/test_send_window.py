from mutt_app.forwarding.send_window import SendWindow


def test_the_window_opens_from_one_doubling_up_to_the_limit_and_closes_to_one_after_a_failure():
    window = SendWindow()
    sizes = []
    for _ in range(5):
        sizes.append(window.size(limit=6))
        window.went_through(limit=6)
    assert sizes == [1, 2, 4, 6, 6]
    assert window.size(limit=3) == 3  # a lower limit applies at once
    window.failed()
    assert window.size(limit=6) == 1
