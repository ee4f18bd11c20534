# Source: email-change.en.txt 【If you cannot confirm a valid one-time password】 ①–⑮.
@manual_email_change
Feature: Resetting the email setting when no valid one-time password can be confirmed
  A user who can no longer confirm a one-time password initializes the settings with a
  confirmation code mailed to the registered address, then registers a new address.

  @RESET_REAUTHENTICATE @RESET_SCREEN @RESET_ADDRESS_MASKED @RESET_CONFIRMATION_MAIL @MAIL_SUBJECT_RESET @MAIL_SENDER @MAIL_BODY_CODE @RESET_CODE_DIGITS @RESET_THEN_SETUP @RESET_CLEARS_EMAIL @EMAIL_REGISTRATION_CONFIRM @EMAIL_OTP_TO_REGISTERED_ADDRESS @LOGOUT
  Scenario: Initializing the settings and registering a new address
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    # ① ②
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    # ③
    And I click "Click here For Initial Setup or Setup Again"
    # ④
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    # ⑤
    And I click "Initialize"
    # ⑥
    Then the screen shows my login ID and my masked address, and "An email has been sent."
    # ⑦
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    # ⑧
    When I paste the confirmation code and click "Confirm"
    Then the settings are initialized and a second factor can be set up anew
    # ⑨
    When I enter a new private address and click "Send One-Time Password"
    # ⑩
    Then the message "An email has been sent to" the address appears
    # ⑪
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    # ⑫
    When I paste the one-time password and click "Confirm"
    Then the address for email-authentication is registered
    # ⑬ ⑭
    When I click "☰" and then "Logout"
    Then I am logged out: the settings ask me to log in again
    # ⑮ The settings are complete: the one-time password now goes to the new address.
    And the next login mails the one-time password to the new address and not to the old one

  @RESET_REAUTHENTICATE
  Scenario: The initialization needs the password again, not a second factor
    # ④: a user who has lost the second factor can still reach "Initialize".
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password
    When I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    Then the screen shows my login ID and my masked address, and "An email has been sent."
