"""Checksums, masking of card and bank numbers, and GSM-7 text (bot.services.checks)."""

from __future__ import annotations

import pytest

from bot.core.checks import aba_routing_valid, card_brand, luhn_valid
from bot.core.gsm7 import gsm7_length, is_gsm7
from bot.core.gsm7 import to_gsm7 as gsm7_safe
from bot.core.masking import find_card_numbers, mask_card, mask_sensitive


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",
        "4242424242424242",
        "5454545454545454",
        "378282246310005",
        "6011111111111117",
        "5555555555554444",
        "4000056655665556",
    ],
)
def test_known_test_card_numbers_pass_luhn(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4111111111111112", "4242424242424241", "1234567890123456", "", "4111 1111", "abcd"]
)
def test_wrong_or_malformed_card_numbers_fail_luhn(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize("routing", ["011000015", "021000021", "111000025", "061000104"])
def test_real_routing_numbers_pass_aba(routing: str) -> None:
    assert aba_routing_valid(routing)


@pytest.mark.parametrize(
    "routing",
    ["123456789", "011000016", "01100001", "0110000150", "000000000", "01100001a", "450000001"],
)
def test_bad_routing_numbers_fail_aba(routing: str) -> None:
    assert not aba_routing_valid(routing)


def test_card_brands_from_leading_digits() -> None:
    assert card_brand("4111 1111 1111 1111") == "Visa"
    assert card_brand("5454545454545454") == "Mastercard"
    assert card_brand("2221000000000009") == "Mastercard"
    assert card_brand("378282246310005") == "American Express"
    assert card_brand("6011111111111117") == "Discover"
    assert card_brand("9999999999999995") is None
    assert card_brand("1000004821") is None


def test_card_typed_in_a_sentence_is_masked_to_first_and_last_four() -> None:
    result = mask_sensitive("just use my card 4111 1111 1111 1111 exp 09/28")
    assert result.text == "just use my card 4111 **** **** 1111 exp 09/28"
    assert result.found_card and not result.found_bank
    assert "1111 1111 1111" not in result.text


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("4111-1111-1111-1111", "4111 **** **** 1111"),
        ("4111111111111111", "4111 **** **** 1111"),
        ("card: 4242424242424242.", "card: 4242 **** **** 4242."),
        ("5454 5454 5454 5454 please", "5454 **** **** 5454 please"),
        ("amex 3782 822463 10005", "amex 3782 **** *** 0005"),
        ("4111 - 1111 - 1111 - 1111", "4111 **** **** 1111"),
    ],
)
def test_card_numbers_with_or_without_separators_are_masked(typed: str, masked: str) -> None:
    result = mask_sensitive(typed)
    assert result.text == masked
    assert result.found_card


def test_two_cards_in_one_message_are_both_masked() -> None:
    result = mask_sensitive("4111111111111111 or 5454545454545454")
    assert result.text == "4111 **** **** 1111 or 5454 **** **** 5454"


def test_card_followed_by_a_zip_masks_only_the_card() -> None:
    assert mask_sensitive("4111111111111111 30833").text == "4111 **** **** 1111 30833"


def test_a_number_failing_luhn_is_left_alone() -> None:
    text = "my reference is 4111 1111 1111 1112"
    assert mask_sensitive(text).text == text
    assert find_card_numbers(text) == []


def test_bank_account_next_to_routing_number_is_masked_with_it() -> None:
    result = mask_sensitive("routing 011000015 account 123456789012")
    assert result.text == "routing *****0015 account ********9012"
    assert result.found_bank and not result.found_card


def test_bank_account_before_routing_number_is_masked_too() -> None:
    result = mask_sensitive("acct 987654321, routing # 021000021")
    assert result.text == "acct *****4321, routing # *****0021"
    assert result.found_bank


def test_account_number_next_to_invalid_routing_number_is_not_bank_data() -> None:
    text = "routing 123456789 account 123456789012"
    result = mask_sensitive(text)
    assert result.text == text
    assert not result.found_bank


@pytest.mark.parametrize(
    "text",
    [
        "my account is 1000004821",
        "1000004821 and 1000005578",
        "account 1000004821 zip 30833",
        "call me at 706-547-2167",
        "call me at (706) 547-2167 or 7065550101",
        "+1 706 555 0101",
        "706-547-2167 30833",
        "7065472167 30833",
        "1-800-262-5131",
        "I paid $142.87 on 11/12/2026",
        "pay 1,250.00 please",
        "due Dec 15 2026",
        "code 482913",
        "zip 30833-1234",
    ],
)
def test_everyday_numbers_are_never_masked(text: str) -> None:
    result = mask_sensitive(text)
    assert result.text == text
    assert not result.found_any


def test_mask_card_never_shows_more_than_first_and_last_four() -> None:
    for digits in ["4111111111111111", "378282246310005", "6011111111111117123"]:
        masked = mask_card(digits)
        shown = [c for c in masked if c.isdigit()]
        assert len(shown) == 8
        assert masked.startswith(digits[:4]) and masked.endswith(digits[-4:])


def test_gsm7_safe_replaces_curly_punctuation_and_strips_emoji() -> None:
    text = "We\u2019re open \u201ctoday\u201d \u2014 see you\u2026 \U0001f60a Thanks!"
    safe = gsm7_safe(text)
    assert safe == 'We\'re open "today" - see you... Thanks!'
    assert is_gsm7(safe)


def test_gsm7_safe_keeps_gsm_letters_and_drops_accents_outside_it() -> None:
    assert gsm7_safe("Peña café") == "Peña café"  # ñ and é are in GSM-7
    assert gsm7_safe("Zoë naïve") == "Zoe naive"  # ë and ï are not
    assert gsm7_safe("\u26a1 Power restored \U0001f44d\U0001f3fd") == "Power restored"


def test_is_gsm7() -> None:
    assert is_gsm7("Reply STOP to opt out. Msg & data rates may apply. $5 [ok] \u20ac")
    assert not is_gsm7("Thanks \U0001f60a")
    assert not is_gsm7("It\u2019s")


def test_gsm7_length_counts_extension_characters_twice() -> None:
    assert gsm7_length("abc") == 3
    assert gsm7_length("[x]") == 5
    assert gsm7_length("\u20ac5") == 3


def test_mask_digits_never_shows_more_than_half() -> None:
    from bot.core.masking import mask_digits

    assert mask_digits("123456789012") == "********9012"
    assert mask_digits("123456") == "***456"
    assert mask_digits("12345") == "***45"
    assert mask_digits("1234") == "**34"
