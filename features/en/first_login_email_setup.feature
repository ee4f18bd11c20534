# Source: initial-setup.en.txt ("Initial Setup", "Features", "Note") and email-change.en.txt
# Step2 ①–⑩, which is the same Mail-tab procedure for an account that has no factor yet.
# Step1 (allow mail from the sender) out of scope: a mail-client setting; the sender itself is
# checked in ⑥ below.
# initial-setup "If you don't have an email address": the app-only set-up is in
# helpdesk_reset.feature, where its consequence (a reset needs the ICT Support Center) is shown.
@manual_initial_setup
Feature: First login and initial email setup
  A user who has never set up multi-factor authentication logs in with the ECS-ID/SPS-ID and
  password only, and registers a private address to receive 8-digit one-time passwords.

  @SETUP_WITHOUT_FACTOR @FIRST_FACTOR_PASSWORD
  Scenario: The first login goes to the initial setup without a one-time password
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    Then I go to the initial setup without a one-time password

  @manual_email_change @EMAIL_REGISTRATION_CONFIRM @MESSAGE_EMAIL_SENT @MAIL_SENDER @MAIL_SUBJECT_OTP @MAIL_BODY_CODE @EMAIL_OTP_DIGITS @SECOND_FACTOR_REQUIRED @EMAIL_OTP_TO_REGISTERED_ADDRESS @LOGOUT
  Scenario: Initial setup by email
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    # ①
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    # ② ③
    And I click "☰" and then "One Time Password Settings"
    # ④
    And I enter my private address and click "Send One-Time Password"
    # ⑤
    Then the message "An email has been sent to" the address appears
    # ⑥
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    # ⑦
    When I paste the one-time password and click "Confirm"
    # ⑧
    Then the address for email-authentication is registered
    # ⑧ ⑨
    When I click "☰" and then "Logout"
    Then I am logged out: the settings ask me to log in again
    # ⑩ The settings are complete: from now on the login asks for a mailed one-time password.
    And the next login asks for the one-time password mailed to the registered address

  @EMAIL_REGISTRATION_CONFIRM
  Scenario: The address is not registered until its one-time password is confirmed
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has logged in and opened "One Time Password Settings"
    When I enter my private address and click "Send One-Time Password"
    Then the next login goes straight to the initial setup

  @EMAIL_BLOCKED_DOMAIN @EMAIL_BLOCKED_SUBDOMAIN @EMAIL_ADDRESS_NORMALIZATION
  Scenario Outline: A university address cannot be registered, however it is spelled
    # Note: "✖ @st.kyoto-u.ac.jp (KUMOI) ✖ @kyoto-u.ac.jp (KUMail) ✖ @ms.c.kyoto-u.ac.jp".
    # The verdict comes from spec/vectors/addresses.toml; \uXXXX writes an invisible character.
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has logged in and opened "One Time Password Settings"
    When I enter the address of case "<case>", written "<address>", and click "Send One-Time Password"
    Then the portal gives the verdict the address vectors give for that case
    And a one-time password is mailed only for an accepted address, to its normalized form

    Examples: the three domains of the manual
      | case            | address                 |
      | blocked-kyoto-u | taro@kyoto-u.ac.jp      |
      | blocked-st      | taro@st.kyoto-u.ac.jp   |
      | blocked-ms-c    | taro@ms.c.kyoto-u.ac.jp |

    Examples: other spellings of the same domains
      | case                          | address                        |
      | uppercase-domain              | taro@KYOTO-U.AC.JP             |
      | trailing-dot-blocked          | taro@kyoto-u.ac.jp.            |
      | fullwidth-domain              | taro@ｋｙｏｔｏ－ｕ.ac.jp             |
      | fullwidth-at                  | taro＠kyoto-u.ac.jp             |
      | kelvin-sign                   | taro@\u212ayoto-u.ac.jp        |
      | ideographic-full-stop-blocked | taro@kyoto-u。ac。jp             |
      | surrounding-tabs-blocked      | \u0009taro@kyoto-u.ac.jp\u0009 |
      | ideographic-spaces-around     | \u3000taro@kyoto-u.ac.jp\u3000 |
      | subaddress-blocked            | taro+ninsho@kyoto-u.ac.jp      |

    Examples: subdomains of a blocked domain
      | case                         | address                  |
      | subdomain-mail               | taro@mail.kyoto-u.ac.jp  |
      | subdomain-of-st              | taro@x.st.kyoto-u.ac.jp  |
      | subdomain-upper-trailing-dot | taro@MAIL.Kyoto-U.ac.jp. |

  @EMAIL_LOOKALIKE_ACCEPTED @EMAIL_ADDRESS_NORMALIZATION
  Scenario Outline: A private address is accepted, even one that looks like a university one
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has logged in and opened "One Time Password Settings"
    When I enter the address of case "<case>", written "<address>", and click "Send One-Time Password"
    Then the portal gives the verdict the address vectors give for that case
    And a one-time password is mailed only for an accepted address, to its normalized form

    Examples: private addresses
      | case                       | address                                |
      | private-gmail              | taro.yamada@gmail.com                  |
      | private-docomo             | taro-1234@docomo.ne.jp                 |
      | mixed-case-local-preserved | Taro.Yamada@Gmail.COM                  |
      | surrounding-spaces         | \u0020\u0020taro@gmail.com\u0020\u0020 |
      | fullwidth-local-part       | ｔａｒｏ@gmail.com                         |
      | idn-japanese               | taro@例え.jp                             |
      | subaddress-private         | taro+ninsho@gmail.com                  |

    Examples: lookalikes of the blocked domains
      | case                         | address                        |
      | lookalike-prefix             | taro@notkyoto-u.ac.jp          |
      | lookalike-suffix-example-com | taro@kyoto-u.ac.jp.example.com |
      | lookalike-jp-mail-com        | taro@kyoto-u.ac.jp-mail.com    |
      | lookalike-st-hyphen          | taro@st-kyoto-u.ac.jp          |
      | parent-domain                | taro@ac.jp                     |
      | lookalike-cyrillic-o         | taro@kyot\u043e-u.ac.jp        |

  @EMAIL_ADDRESS_SYNTAX @MAIL_HEADER_INJECTION
  Scenario Outline: A malformed address is refused, and nothing is mailed
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has logged in and opened "One Time Password Settings"
    When I enter the address of case "<case>", written "<address>", and click "Send One-Time Password"
    Then the portal gives the verdict the address vectors give for that case
    And a one-time password is mailed only for an accepted address, to its normalized form

    Examples: hidden characters and several "@"
      | case                     | address                        |
      | zwsp-inside              | taro@kyoto\u200b-u.ac.jp       |
      | bidi-override            | taro@\u202epj.ca.u-otoyk       |
      | soft-hyphen              | taro@kyo\u00adto-u.ac.jp       |
      | unit-separator-end       | taro@gmail.com\u001f           |
      | several-at-blocked-first | taro@kyoto-u.ac.jp@gmail.com   |
      | quoted-hides-blocked     | "taro@kyoto-u.ac.jp"@gmail.com |
      | two-trailing-dots        | taro@kyoto-u.ac.jp..           |
      | space-inside-local       | taro yamada@gmail.com          |

    Examples: header injection
      | case                   | address                           |
      | crlf-header-injection  | a@gmail.com\u000d\u000aBcc: x@y.z |
      | lf-injection-single-at | taro@gmail.com\u000aX-Injected: 1 |
