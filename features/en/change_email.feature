# Source: email-change.en.txt, "Manual for changing the email address in use", Step2 ①–⑩.
# Step1 (allow mail from ninsho-qa@…) out of scope: a mail-client setting; the sender is checked
# when the mail is opened (⑥).
# ① "If you are unable to access the site because you cannot confirm a valid one-time
# password, click here": that path is email_reset.feature.
@manual_email_change
Feature: Changing the address for email-authentication
  A user whose email set-up did not complete, or who wants another address, registers a new
  private address. Only one address can be registered: the new one replaces the old.

  @EMAIL_SINGLE_ADDRESS @EMAIL_REGISTRATION_CONFIRM @EMAIL_OTP_TO_REGISTERED_ADDRESS @MESSAGE_EMAIL_SENT @MAIL_SENDER @MAIL_SUBJECT_OTP @MAIL_BODY_CODE @LOGOUT
  Scenario: Changing the registered address
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    # ① the settings page asks for the password and the one-time password by email
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password
    When I click the "Multi-Factor Authentication : Email" login link
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I enter the one-time password from the mail and click "Login"
    Then I am logged in
    # ② ③
    When I click "☰" and then "One Time Password Settings"
    # ④
    And I enter a new private address and click "Send One-Time Password"
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
    # ⑩ The settings are complete, and the old address no longer receives one-time passwords.
    And the next login mails the one-time password to the new address and not to the old one

  @RESEND_VOIDS_PREVIOUS @EMAIL_REGISTRATION_CONFIRM
  Scenario: Sending the one-time password again voids the first one
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has logged in and opened "One Time Password Settings"
    When I enter my private address and click "Send One-Time Password"
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I enter my private address and click "Send One-Time Password"
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I paste the one-time password from the first mail and click "Confirm"
    Then the one-time password is refused and the address is not registered

  @EMAIL_OTP_LIFETIME @EMAIL_REGISTRATION_CONFIRM
  Scenario Outline: The one-time password that confirms an address is valid for the profile's lifetime only
    # "lifetime" is the profile's email_otp.lifetime_seconds; the age counts from the mail. The
    # settings session outlives it, so what is judged is the code, not the session.
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has logged in and opened "One Time Password Settings"
    When I enter my private address and click "Send One-Time Password"
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And <age> passes
    And I paste the one-time password and click "Confirm"
    Then the code is accepted exactly while it is younger than its lifetime

    Examples:
      | age             |
      | 0 s             |
      | lifetime - 1 s  |
      | lifetime        |
      | lifetime + 60 s |
