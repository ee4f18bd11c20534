# Source: email-change.en.txt 【If you cannot confirm a valid one-time password】 ⑥ ("If
# 'id*****@mail2.adm.kyoto-u.ac.jp' is displayed … call the ICT support center … skip ⑦ and
# ⑧") and app-reset.en.txt ⑥ ("skip step ⑦ and proceed to step ⑧"); initial-setup.en.txt "If
# you don't have an email address … you will not be able to complete the Reset operation".
# Calling "Weekdays 9:00-17:00" out of scope: the harness's operator plays the ICT Support Center.
@manual_email_change @manual_app_reset @manual_initial_setup
Feature: Resetting with no registered address, through the ICT Support Center
  An account set up with the app only has no address to mail a confirmation code to. The reset
  screen shows a placeholder address, and the ICT Support Center, after checking the caller's
  identity by phone, reads out the confirmation code.

  @RESET_NO_ADDRESS_PLACEHOLDER @HELPDESK_ISSUES_CODE @RESET_CODE_DIGITS @RESET_THEN_SETUP @RESET_VOIDS_APPS
  Scenario: The ICT Support Center reads out the confirmation code
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
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
    Then the screen shows, as the address for email-authentication, the placeholder for none registered
    # ⑥ the phone call; ⑦ is skipped
    When I call the ICT Support Center, who confirm my identity and read out the confirmation code
    # ⑧
    And I enter the confirmation code read out and click "Confirm"
    Then the settings are initialized and a second factor can be set up anew
    # ⑨ onwards: set up the app again
    When I click "App"
    And I scan the QR code with the Authenticator app
    And I enter the one-time password the app shows and click "Register"
    Then the app is registered
    When I click "☰" and then "Logout"
    Then the next login accepts only the new app's one-time password, not the old app's

  @HELPDESK_PENDING_ONLY
  Scenario: The ICT Support Center issues no code without a pending initialization
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When the ICT Support Center is asked for a confirmation code
    Then the ICT Support Center cannot issue a confirmation code

  @HELPDESK_PENDING_ONLY
  Scenario: The ICT Support Center issues no code for an account whose address can receive it
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    And the ICT Support Center is asked for a confirmation code
    Then the ICT Support Center cannot issue a confirmation code
