# Source: app-reset.en.txt, "Manual for resetting your app in use", Step2 ①–⑭; and
# faq-totp-reset-2021.en.txt: "After initialization, TOTP set in multiple browsers will be reset".
# Step1 "Check if the device's clock is correct": device_clock.feature.
# Step1 "Delete unnecessary one-time passwords displayed in the Authenticator app" and "If the
# Authenticator app is missing, please reinstall it" out of scope: they happen in the app.
# ① "from a PC browser": every driver is one browser; the smartphone is the simulated app.
# faq-totp-reset-2021 steps 1–12 (reset by a link in the mail, "An email has been sent to the
# ICT Support Center") are not here: that older portal is the profile iimc-2021 (reset.mode =
# "link"), transcribed in faq_reset_link.feature; the iimc profile resets by confirmation code,
# as transcribed here.
@manual_app_reset
Feature: Resetting when the app no longer works
  A user whose app shows codes the portal refuses logs in with ID and password again,
  initializes the settings with a confirmation code mailed to the registered address, and
  registers the app anew. Initializing voids every earlier app registration.

  @RESET_REAUTHENTICATE @RESET_SCREEN @RESET_ADDRESS_MASKED @RESET_CONFIRMATION_MAIL @MAIL_SUBJECT_RESET @MAIL_SENDER @RESET_CODE_DIGITS @RESET_THEN_SETUP @RESET_VOIDS_APPS @APP_PROVISIONING_URI @APP_REGISTER_REQUIRES_CODE @LOGOUT @manual_faq_totp_reset_2021
  Scenario: Resetting the app and registering it again
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the user has registered the Authenticator app
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
    When I click "App"
    # ⑩
    And I scan the QR code with the Authenticator app
    Then the QR code gives the app a key with the profile's digits, period and algorithm
    # ⑪
    When I enter the one-time password the app shows and click "Register"
    # ⑫
    Then the app is registered
    # ⑫ ⑬
    When I click "☰" and then "Logout"
    # ⑭ The setup is complete; the app registered before the reset no longer works.
    Then the next login accepts only the new app's one-time password, not the old app's

  @RESET_VOIDS_APPS @RESET_CLEARS_EMAIL @SETUP_WITHOUT_FACTOR @RESET_CONFIRMATION_MAIL @manual_faq_totp_reset_2021
  Scenario: After initializing, the next login starts from the initial setup
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the user has registered the Authenticator app
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And I paste the confirmation code and click "Confirm"
    Then the next login goes straight to the initial setup

  @RESEND_VOIDS_PREVIOUS @RESET_CONFIRMATION_MAIL
  Scenario: "Resend" voids the earlier confirmation code
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And I click "Resend"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And I enter the confirmation code from the first mail and click "Confirm"
    Then the confirmation code is refused

  @RESET_CONFIRMATION_MAIL @MESSAGES_BILINGUAL
  Scenario: A wrong confirmation code initializes nothing
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And I enter a wrong confirmation code and click "Confirm"
    Then the confirmation code is refused
    And the portal explains it in Japanese and in English

  @RESET_CODE_LIFETIME
  Scenario Outline: The confirmation code is valid for the profile's lifetime only
    # "lifetime" is the profile's confirmation_code.lifetime_seconds; the age counts from the mail.
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And <age> passes
    And I paste the confirmation code and click "Confirm"
    Then the code is accepted exactly while it is younger than its lifetime

    Examples:
      | age             |
      | 0 s             |
      | lifetime - 1 s  |
      | lifetime        |
      | lifetime + 60 s |

  @RESEND_KEEPS_FAILURE_COUNT @LOCKOUT_THRESHOLD @RESET_CONFIRMATION_MAIL
  Scenario: "Resend" does not give new attempts
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And I enter wrong confirmation codes one time fewer than the lockout threshold
    And I click "Resend"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And I enter a wrong confirmation code and click "Confirm"
    Then even the right confirmation code from the latest mail is refused
