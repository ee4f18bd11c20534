"""Given steps: the account and what it has already set up before the manual's steps begin.

Each one goes through the portal the way a user would (log in, set up, log out), so a
precondition is itself checked: a portal that cannot set up an account fails here, loudly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import given

from ninsho.conformance.interfaces import Clock, Driver, Mailbox, Operator

from .common import (
    World,
    browser,
    expect_ok,
    need,
    register_address,
    register_app,
    settings_requirement,
    sign_in,
)
from .wording import bilingual

if TYPE_CHECKING:
    from ninsho.spec.profile import Profile


@given(
    bilingual(
        "a user with an ECS-ID/SPS-ID and a password and no second factor yet",
        "ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる",
    )
)
def new_user(world: World, operator: Operator) -> None:
    world.account = operator.new_account()


@given(
    bilingual(
        "the user has registered a private address for email-authentication",
        "利用者はメール認証用アドレスにプライベートなアドレスを登録している",
    )
)
def user_has_address(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    account = need(world.account, "account")
    sign_in(world, driver, mailbox, portal_clock, profile)
    register_address(world, driver, mailbox, portal_clock, profile, need(account.address, "test inbox"))
    expect_ok(browser(world, driver).logout(), "LOGOUT", "logging out after the set-up should succeed")


@given(
    bilingual("the user has registered the Authenticator app", "利用者は Authenticator アプリを登録している")
)
def user_has_app(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    sign_in(world, driver, mailbox, portal_clock, profile)
    register_app(world, driver, portal_clock, profile)
    expect_ok(browser(world, driver).logout(), "LOGOUT", "logging out after the set-up should succeed")


@given(
    bilingual(
        'the user has logged in and opened "One Time Password Settings"',
        "利用者はログインして『ワンタイムパスワードの設定』を開いている",
    )
)
def user_in_settings(
    world: World, driver: Driver, mailbox: Mailbox, portal_clock: Clock, profile: Profile
) -> None:
    sign_in(world, driver, mailbox, portal_clock, profile)
    expect_ok(
        browser(world, driver).settings(),
        settings_requirement(world),
        "One Time Password Settings should open after logging in",
    )


@given(
    bilingual(
        "the app has shown several new one-time passwords since then",
        "その後、アプリのワンタイムパスワードが何度か新しくなった",
    )
)
def time_passes_since_registration(world: World, portal_clock: Clock, profile: Profile) -> None:
    """Far enough that every code of the window, and two steps beyond, is newer than the one
    that registration used: an old step must be refused for the window, not as a replay."""
    portal_clock.advance((profile.totp_window_past_steps + 3) * profile.totp_period_seconds)
