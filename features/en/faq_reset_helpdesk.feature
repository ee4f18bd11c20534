# Source: faq-totp-reset-2021.en.txt, "In case you see the message 'An email has been sent to the
# ICT Support Center'" ①–② (written "ICT ①–②" in protocol.md §19.5), with the Operation
# Procedure steps it starts from and goes on with: the older portal (profile iimc-2021,
# reset.mode = "link"), for an account with no address for email-authentication. Under a profile
# that resets by code the scenarios are NOT_APPLICABLE (their RESET_LINK_* tags, protocol.md §19.1).
# Operation Procedure ⑤–⑧ (the mailed URL, and the way back to the set-up) are not walked: no
# link is mailed, and the QR code screen shows up by itself (ICT ②: "operate from step9").
# The phone call itself ("TEL:075-753-7840(ex:16-7840)", "open 9:00-17:00") is out of scope: the
# harness's operator plays the ICT Support Center and confirms the caller's identity.
@manual_faq_totp_reset_2021
Feature: Initializing with no registered address, through the ICT Support Center (the 2021 portal)
  An account set up with the app only has no address to mail a URL to. "初期化" mails the ICT
  Support Center instead. The user phones the center with the screen left open, and once the
  center has confirmed the caller's identity, the QR code screen shows up by itself.

  @RESET_LINK_HELPDESK_MAIL @RESET_LINK_HELPDESK_CONFIRM @RESET_THEN_SETUP @RESET_VOIDS_APPS @APP_REGISTER_REQUIRES_CODE @LOGOUT
  Scenario: The ICT Support Center confirms the caller, and the QR code screen shows up by itself
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    # Operation Procedure ① ②
    When I click "Click here if you have not initialized your one-time password (TOTP) yet."
    # Operation Procedure ③
    And I enter my SPS-ID and PW, click "Login" and then "初期化"
    # Operation Procedure ④, ICT ①
    Then the screen says "An email has been sent to the ICT Support Center." and the center gets an email naming my account
    # ICT ① the phone call: "Do NOT close the screen."
    When I call the ICT Support Center with the screen left open, and they confirm my identity
    # ICT ②
    Then the QR code screen shows up by itself on the screen I left open
    # Operation Procedure ⑨
    When I scan the QR code with the Authenticator app
    # Operation Procedure ⑩ ⑪ "登録", then the TOTP the app shows and "確認"
    And I enter the one-time password the app shows and click "Register"
    # Operation Procedure ⑫
    Then the app is registered
    When I click "☰" and then "Logout"
    Then the next login accepts only the new app's one-time password, not the old app's

  @RESET_LINK_HELPDESK_CONFIRM
  Scenario: The ICT Support Center confirms nothing without a pending initialization
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When the ICT Support Center is asked to confirm the initialization
    Then the ICT Support Center cannot confirm it

  @RESET_LINK_HELPDESK_CONFIRM
  Scenario: The ICT Support Center confirms nothing for an account whose address receives the URL
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I click "Click here if you have not initialized your one-time password (TOTP) yet."
    And I enter my SPS-ID and PW, click "Login" and then "初期化"
    And the ICT Support Center is asked to confirm the initialization
    Then the ICT Support Center cannot confirm it
