# Source: app-reset.en.txt Step2 ⑨–⑭ (the App tab: QR code, "If you cannot scan the QR code",
# "Register"), and initial-setup.en.txt "If you also want to use the app".
# ⑩ "Launch the Authenticator app on your smartphone": the app is simulated by the harness
# (pyotp from the QR code's otpauth:// URI, on the portal's clock).
# "How to scan a QR code" (tap "Add a code", launch camera mode) out of scope: the app's own UI.
@manual_app_reset
Feature: Registering the Authenticator app
  Scanning the QR code alone does not finish the registration: the user enters the 6-digit
  one-time password the app shows and clicks "Register".

  @APP_PROVISIONING_URI @APP_REGISTER_REQUIRES_CODE @TOTP_DIGITS @TOTP_ALGORITHM @TOTP_SECRET_STRENGTH @SECOND_FACTOR_METHODS @LOGOUT
  Scenario: Registering the app by scanning the QR code
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the user has logged in and opened "One Time Password Settings"
    # ⑨
    When I click "App"
    # ⑩
    And I scan the QR code with the Authenticator app
    Then the QR code gives the app a key with the profile's digits, period and algorithm
    # ⑪
    When I enter the one-time password the app shows and click "Register"
    # ⑫ the message appears
    Then the app is registered
    # ⑫ ⑬
    When I click "☰" and then "Logout"
    # ⑭ The setup is complete.
    Then the next login accepts the app's one-time password

  @APP_MANUAL_KEY @APP_REGISTER_REQUIRES_CODE
  Scenario: Registering the app with the key typed by hand
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the user has logged in and opened "One Time Password Settings"
    When I click "App"
    And I cannot scan the QR code and type the key shown under "If you cannot scan the QR code" into the app
    Then the key typed by hand is the key of the QR code
    When I enter the one-time password the app shows and click "Register"
    Then the app is registered
    When I click "☰" and then "Logout"
    Then the next login accepts the app's one-time password

  @APP_REGISTER_REQUIRES_CODE
  Scenario: Scanning the QR code without clicking "Register" registers nothing
    # ⑪ "If you do not click this button, the linkage will not be completed."
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the user has logged in and opened "One Time Password Settings"
    When I click "App"
    And I scan the QR code with the Authenticator app
    And I click "☰" and then "Logout"
    Then the next login does not accept the app's one-time password

  @APP_REGISTER_REQUIRES_CODE
  Scenario: A wrong one-time password does not register the app
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has logged in and opened "One Time Password Settings"
    When I click "App"
    And I scan the QR code with the Authenticator app
    And I enter a wrong one-time password and click "Register"
    Then the registration is refused
