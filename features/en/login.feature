# Source: the login screens shown in email-change.en.txt 【If you cannot confirm a valid
# one-time password】 ② and ③ and in app-reset.en.txt ② and ③: "ECS-ID/SPS-ID", "Password",
# "Login"; then "Multi-Factor Authentication : App" with "One-Time Password", "Trust this
# browser" and the link 'Click Here for "Multi-Factor Authentication : Email" Login'.
# initial-setup.en.txt: "You will receive an 8-digit number in an email and enter it".
# "Remember ECS-ID/SPS-ID", "Forgot your password?" and "Need Help?" out of scope: the drivers
# speak the portal's actions, and these do not reach the second factor.
@manual_email_change
Feature: Logging in with the app, and with email
  After the ECS-ID/SPS-ID and password, the portal asks for a one-time password: the one the
  Authenticator app shows, or one mailed to the registered address.

  @SECOND_FACTOR_REQUIRED @SECOND_FACTOR_METHODS @TOTP_DIGITS
  Scenario: Logging in with the one-time password the app shows
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password
    When I enter the one-time password the app shows and click "Login"
    Then I am logged in

  @SECOND_FACTOR_METHODS @EMAIL_OTP_TO_REGISTERED_ADDRESS @EMAIL_OTP_DIGITS @MAIL_SENDER @MAIL_SUBJECT_OTP @MAIL_BODY_CODE
  Scenario: Logging in with a one-time password by email
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password
    When I click the "Multi-Factor Authentication : Email" login link
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I enter the one-time password from the mail and click "Login"
    Then I am logged in

  @FIRST_FACTOR_PASSWORD @FIRST_FACTOR_NO_ENUMERATION
  Scenario: A wrong password and an unknown ECS-ID/SPS-ID get the same answer
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    When I log in with a wrong password
    And I log in with an ECS-ID/SPS-ID that does not exist
    Then both are refused with the same answer

  @TOTP_REPLAY
  Scenario: The app's one-time password cannot be used twice
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I enter the one-time password the app shows and click "Login"
    Then I am logged in
    When I click "☰" and then "Logout"
    And I log in again with my ECS-ID/SPS-ID and password
    And I enter the same one-time password again and click "Login"
    Then the one-time password is refused

  @EMAIL_OTP_SINGLE_USE
  Scenario: A mailed one-time password can be used only once
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click the "Multi-Factor Authentication : Email" login link
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I enter the one-time password from the mail and click "Login"
    Then I am logged in
    When I click "☰" and then "Logout"
    And I log in again with my ECS-ID/SPS-ID and password
    And I enter the same one-time password again and click "Login"
    Then the one-time password is refused

  @RESEND_VOIDS_PREVIOUS
  Scenario: Asking for a new mailed one-time password voids the earlier one
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click the "Multi-Factor Authentication : Email" login link
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I click the "Multi-Factor Authentication : Email" login link again
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I enter the one-time password from the first mail and click "Login"
    Then the one-time password is refused

  @EMAIL_OTP_LIFETIME
  Scenario Outline: A mailed one-time password is valid for the profile's lifetime only
    # "lifetime" is the profile's email_otp.lifetime_seconds; the age counts from the mail.
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click the "Multi-Factor Authentication : Email" login link
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And <age> passes
    And I enter the one-time password from the mail and click "Login"
    Then the code is accepted exactly while it is younger than its lifetime

    Examples:
      | age             |
      | 0 s             |
      | lifetime - 1 s  |
      | lifetime        |
      | lifetime + 60 s |

  @LOCKOUT_THRESHOLD @LOCKOUT_DURATION
  Scenario: Too many wrong one-time passwords lock the login for a while
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I enter wrong one-time passwords as many times as the lockout threshold
    Then the right one-time password the app shows is refused too
    When the lockout duration passes
    And I enter the one-time password the app shows and click "Login"
    Then I am logged in
