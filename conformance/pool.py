"""A small pool of test accounts, borrowed and given back, run after run.

A staging portal has a handful of test accounts and no admin API. A check borrows one (a
*lease*) and gets it in its starting state: the password works and no factor is registered.
When the check ends, the account goes back to that state through the portal's own flows, as a
user would put it back (``app-reset.en.txt`` ⑤–⑧, ``email-change.en.txt`` 【If you cannot
confirm…】): log in again, "Initialize", the confirmation code from the mail (or the helpdesk's,
where no address is left), "Confirm". A portal that resets by link (protocol.md §19) is put back
the same way: "初期化", the mailed URL opened with the account's ID and password, or, where no
address is left, the helpdesk's confirm (§19.5). Then the next check, or the next run, may use it.

Borrowing blocks while every account is out, so the pool also schedules the checks: a check
waiting for a fresh account waits for one. An account that cannot be put back is taken out of
the pool, with the reason, and the run goes on with the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from ninsho.conformance import actions, waits
from ninsho.conformance.config import PortalConfig
from ninsho.conformance.errors import ConfigError, DriverError, HarnessError, MailTimeout, NotApplicable
from ninsho.conformance.helpdesk import ConfirmingHelpdesk
from ninsho.conformance.interfaces import Account, Clock, Driver, Mailbox, Outcome
from ninsho.conformance.probes.reset_link import link_in
from ninsho.spec.profile import Profile

DEFAULT_LEASE_TIMEOUT = 900.0  # a real-time check may hold its account for a lifetime or two


@dataclass
class Parts:
    """What putting an account back needs: a browser, the mail, the clock, the profile, and the
    helpdesk (an operator whose ``helpdesk_code``, or in link mode ``helpdesk_confirm``, works;
    or None)."""

    new_driver: Callable[[], Driver]
    mailbox: Mailbox
    clock: Clock
    profile: Profile
    helpdesk: ConfirmingHelpdesk | None = None


@dataclass
class AccountPool:
    accounts: list[Account]
    parts: Parts
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT
    # Addresses the checks registered for each account: where a reset code will be mailed.
    addresses: dict[str, set[str]] = field(default_factory=dict)
    retired: dict[str, str] = field(default_factory=dict)  # login ID → why it left the pool
    _free: list[Account] = field(default_factory=list)
    _checked: set[str] = field(default_factory=set)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self._free = list(self.accounts)

    # --- leases ------------------------------------------------------------------------------
    # An account is free (in ``_free``) or out with a check. ``_checked`` holds the free ones
    # known to be in their starting state; one not yet seen this run is restored on its lease.
    def lease(self) -> Account:
        """A free account in its starting state; waits while every account is out."""
        deadline = time.monotonic() + self.lease_timeout
        while True:
            with self._changed:
                while not self._free:
                    if len(self.retired) == len(self.accounts):
                        # The run's own limit, not the portal's verdict: an ERROR that says how to fix it.
                        raise DriverError(
                            f"every one of the {len(self.accounts)} pool accounts has left the pool, none"
                            f" could be put back ({self._why_retired()}): list more in [accounts] pool"
                        )
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise DriverError(
                            f"all {len(self.accounts)} pool accounts stayed in use for {self.lease_timeout:g} s:"
                            " list more in [accounts] pool"
                        )
                    self._changed.wait(left)
                account = self._free.pop(0)
                checked = account.login_id in self._checked
                self._checked.discard(account.login_id)
            if checked or self._restored(account):
                return account  # else it was retired: look for another

    def give_back(self, account: Account) -> None:
        """Put ``account`` back in its starting state, then back in the pool."""
        if self._restored(account):
            with self._changed:
                self._checked.add(account.login_id)
                self._free.append(account)
                self._changed.notify_all()

    def note_address(self, login_id: str, address: str) -> None:
        with self._changed:
            self.addresses.setdefault(login_id, set()).add(address)

    def _restored(self, account: Account) -> bool:
        """Restore ``account``; False (and retired, with the reason) when that fails."""
        with self._changed:
            addresses = set(self.addresses.get(account.login_id, set()))
        try:
            restore(account, self.parts, addresses)
        except HarnessError as exc:
            with self._changed:
                self.retired[account.login_id] = str(exc)
                self._changed.notify_all()
            return False
        with self._changed:
            self.addresses.pop(account.login_id, None)
        return True

    def _why_retired(self) -> str:
        return "; ".join(f"{login_id}: {why}" for login_id, why in sorted(self.retired.items()))

    def lease_for_check(self, helpdesk: ConfirmingHelpdesk | None) -> Lease:
        return Lease(self, helpdesk)


@dataclass
class Lease:
    """One check's view of the pool, as an :class:`Operator`: what it borrows goes back when the
    check ends (:meth:`release`)."""

    pool: AccountPool
    helpdesk: ConfirmingHelpdesk | None
    borrowed: list[Account] = field(default_factory=list)

    def new_account(self) -> Account:
        account = self.pool.lease()
        self.borrowed.append(account)
        return account

    def helpdesk_code(self, login_id: str) -> Outcome:
        if self.helpdesk is None:
            raise NotApplicable(
                "the helpdesk issues codes by phone: no operator API is configured (provision = pool),"
                " and no [operator] command"
            )
        return self.helpdesk.helpdesk_code(login_id)

    def helpdesk_confirm(self, login_id: str) -> Outcome:
        """Link mode's center confirms the pending reset (protocol.md §19.5)."""
        if self.helpdesk is None:
            raise NotApplicable(
                "the helpdesk confirms the reset by phone: no operator API is configured (provision = pool),"
                " and no [operator] confirm_command"
            )
        return self.helpdesk.helpdesk_confirm(login_id)

    def release(self) -> None:
        borrowed, self.borrowed = self.borrowed, []
        for account in borrowed:
            self.pool.give_back(account)


# --- putting an account back -----------------------------------------------------------------
def restore(account: Account, parts: Parts, addresses: set[str]) -> None:
    """Bring ``account`` to its starting state (password works, no factor) through the portal's
    reset, or leave it as it is when it is there already."""
    browser = parts.new_driver()
    login = browser.login(account)
    if not login.ok and login.error == "rate_limited":  # a check's wrong passwords [PASSWORD_THROTTLE]
        _wait_out(account, parts, "password throttle", parts.profile.password_throttle_window_seconds)
        login = browser.login(account)
    if not login.ok:
        raise DriverError(f"pool account {account.login_id}: the portal refused its password ({login.error})")
    at_start = login.stage == "setup" and not _still_registered(browser, addresses)
    browser.logout()
    if at_start:
        return  # no factor registered: the starting state
    reset(account, parts, addresses)
    browser = parts.new_driver()
    again = browser.login(account)
    browser.logout()
    if again.stage != "setup":
        raise DriverError(
            f"pool account {account.login_id}: after a confirmed reset it still logs in to {again.stage!r},"
            " not to the initial setup (does the profile's reset.clears_email hold?)"
        )


def _still_registered(browser: Driver, addresses: set[str]) -> bool:
    """Whether the settings still show an address a check registered, though the login went
    straight to them. On the manuals' portal an address is a second factor, so such a login
    means none was confirmed; a portal that lets an account with an address in on its password
    alone (SECOND_FACTOR_REQUIRED broken: django-allauth) would otherwise have the account
    handed on with it, and the next check's registration of that address refused."""
    return bool(addresses) and browser.settings().data.get("address") in addresses


def reset(account: Account, parts: Parts, addresses: set[str]) -> None:
    """ "Click here For Initial Setup or Setup Again", "Initialize", the code, "Confirm". An
    account that a check locked (nothing is mailed to it, protocol.md §12.5) or mailed to its
    most (§12.4) is reset once that has lifted, from the login again: the reset session may not
    outlive the wait."""
    confirmed = _reset_once(account, parts, addresses)
    if not confirmed.ok and confirmed.error in ("account_locked", "rate_limited"):
        p, locked = parts.profile, confirmed.error == "account_locked"
        what = "lock" if locked else "mail limit"
        _wait_out(account, parts, what, p.lockout_duration_seconds if locked else p.mail_limit_window_seconds)
        confirmed = _reset_once(account, parts, addresses)
    if not confirmed.ok:
        raise DriverError(
            f"pool account {account.login_id}: the reset was refused ({confirmed.error}:"
            f" {'the reset link' if parts.profile.reset_mode == 'link' else 'the confirmation code'})"
        )


def _wait_out(account: Account, parts: Parts, what: str, seconds: float) -> None:
    """Wait until what a check left on the account has lifted, at most its profile's
    ``seconds``: a lock (no code works, and none is mailed, while it holds), the password
    throttle or the mail limit (protocol.md §3.1, §12.4, §12.5)."""
    with waits.waiting_for(f"{what} on pool account {account.login_id} to lift"):
        parts.clock.advance(seconds + 1.0)


def _reset_once(account: Account, parts: Parts, addresses: set[str]) -> Outcome:
    browser = parts.new_driver()
    if not browser.login_for_setup(account).ok:
        raise DriverError(f"pool account {account.login_id}: the reset login was refused")
    since = parts.clock.now()
    screen = browser.initialize()
    if not screen.ok and screen.error in ("account_locked", "rate_limited"):
        return screen  # no mail for a locked account, nor beyond the mail limit: wait, and again
    if not screen.ok:
        raise DriverError(f"pool account {account.login_id}: Initialize was refused ({screen.error})")
    if parts.profile.reset_mode == "link":
        return _link_reset(account, parts, screen, since, {a for a in addresses | {account.address} if a})
    code = _mailed_code(screen, parts, since, {a for a in addresses | {account.address} if a})
    if code is None:
        code = _helpdesk_code(account, parts)
    confirmed = browser.confirm_reset(code)
    if confirmed.ok:
        browser.logout()
    return confirmed


def _mailed_code(screen: Outcome, parts: Parts, since: float, candidates: set[str]) -> str | None:
    """The reset code, from the mail to whichever registered address the screen masks."""
    if screen.data.get("mailed") is False:
        return None
    shown = str(screen.data.get("shown_address") or "")
    likely = sorted(candidates, key=lambda address: not _masks(shown, address))
    profile = parts.profile
    for address in likely:
        mail = actions.stray_mail(parts.mailbox, address, profile.mail_subject_reset, since)
        if mail is not None:
            return actions.code_in(mail, profile.confirmation_code_digits)
    if likely:
        try:
            return actions.mailed_code(
                parts.mailbox, likely[0], profile.mail_subject_reset, since, profile.confirmation_code_digits
            )
        except MailTimeout:
            pass  # no mail came: the helpdesk's code is the way left (the caller asks for it)
    return None


def _link_reset(
    account: Account, parts: Parts, screen: Outcome, since: float, candidates: set[str]
) -> Outcome:
    """§19.4: the URL of the reset mail, opened in a browser of its own with the account's ID and
    password; with no mail (no address left), the helpdesk's confirm of §19.5."""
    profile, url = parts.profile, None
    if screen.data.get("mailed") is not False:
        shown = str(screen.data.get("shown_address") or "")
        likely = sorted(candidates, key=lambda address: not _masks(shown, address))
        mails = (actions.stray_mail(parts.mailbox, a, profile.mail_subject_reset, since) for a in likely)
        mail = next((m for m in mails if m is not None), None)
        if mail is None and likely:
            # the one the screen masks, for as long as a mail may take; none: the helpdesk's way
            with suppress(MailTimeout):
                mail = actions.read_mail(parts.mailbox, likely[0], profile.mail_subject_reset, since)
        url = link_in(mail) if mail is not None else None
    if url is None:
        if parts.helpdesk is None:
            raise NotApplicable(
                f"pool account {account.login_id} has no address left to mail a reset link to, and no"
                " helpdesk is configured ([operator] confirm_command) to confirm its reset"
            )
        confirmed = parts.helpdesk.helpdesk_confirm(account.login_id)
        if not confirmed.ok:
            raise DriverError(
                f"pool account {account.login_id}: the helpdesk refused the confirm ({confirmed.error})"
            )
        return confirmed
    browser = parts.new_driver()
    opener = getattr(browser, "open_reset_link", None)
    if not callable(opener):
        raise NotApplicable(
            f"the {browser.name} driver cannot follow a reset link, to put pool account {account.login_id} back"
        )
    opened: Outcome = opener(url, account)
    if opened.ok:
        browser.logout()
    return opened


def _masks(shown: str, address: str) -> bool:
    """Whether a masked display such as ``ta*****@example.test`` can be ``address``."""
    if not shown:
        return False
    local, _, domain = shown.rpartition("@")
    real_local, _, real_domain = address.rpartition("@")
    visible = local.rstrip("*")
    return domain.lower() == real_domain.lower() and real_local.startswith(visible)


def _helpdesk_code(account: Account, parts: Parts) -> str:
    if parts.helpdesk is None:
        raise NotApplicable(
            f"pool account {account.login_id} has no address left to mail a reset code to, and no"
            " helpdesk is configured ([operator] command) to issue one"
        )
    issued = parts.helpdesk.helpdesk_code(account.login_id)
    if not issued.ok:
        raise DriverError(f"pool account {account.login_id}: the helpdesk refused a code ({issued.error})")
    return str(issued.data.get("code", ""))


def pool_for(config: PortalConfig, parts: Parts) -> AccountPool:
    """The pool ``[accounts] pool`` lists, each account at ``<login id>@<address_domain>``."""
    password = config.secret(config.password_env, "accounts.password_env")
    accounts = [
        Account(login_id, password, f"{login_id}@{config.address_domain}") for login_id in config.pool
    ]
    if not accounts:
        raise ConfigError("accounts.pool", 'provision = "pool" needs at least one account in [accounts] pool')
    return AccountPool(accounts, parts)
