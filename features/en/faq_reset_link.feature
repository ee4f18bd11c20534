# Source: faq-totp-reset-2021.en.txt, "What should I do if none of my TOTPs work anymore?"
# (Update 02/Dec/2021), Operation Procedure 1–12: the older portal, whose "初期化" mails a link
# (profile iimc-2021, reset.mode = "link", protocol.md §19). Under a profile that resets by code
# the scenario is NOT_APPLICABLE (its RESET_LINK_* tags, protocol.md §19.1).
# "If you are out of the office … try 'Click here if you cannot login'" and the export/import
# between browsers out of scope: they happen outside the portal.
# "In case you see the message 'An email has been sent to the ICT Support Center'" ①–②: the path
# of an account with no address (protocol.md §19.5), transcribed in faq_reset_helpdesk.feature.
@manual_faq_totp_reset_2021
Feature: Initializing the one-time password settings by the link in a mail (the 2021 portal)
  A user whose TOTPs no longer work logs in with SPS-ID and PW, clicks "初期化", opens the URL
  mailed to the registered address, logs in again there, and registers the app anew. The
  initialization voids every app registered before it.

  @RESET_REAUTHENTICATE @RESET_LINK_MAIL @MAIL_SUBJECT_RESET @RESET_LINK_REQUIRES_PASSWORD @RESET_THEN_SETUP @RESET_VOIDS_APPS @APP_REGISTER_REQUIRES_CODE @LOGOUT
  Scenario: Initializing by the mailed link and registering the app again
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the user has registered the Authenticator app
    # ① ②
    When I click "Click here if you have not initialized your one-time password (TOTP) yet."
    # ③
    And I enter my SPS-ID and PW, click "Login" and then "初期化"
    # ④
    Then the screen says "メールを送信しました。" and an email with a URL comes to my address
    # ⑤
    When I click the URL in the mail body, enter my SPS-ID and PW and click "Login"
    # ⑥
    Then the screen says "ワンタイムパスワード認証の設定を初期化しました。"
    # ⑦ ⑧ the house button, "ワンタイムパスワード(トークン)", and the link again: the App tab of the set-up
    When I click "App"
    # ⑨
    And I scan the QR code with the Authenticator app
    # ⑩ ⑪ "登録", then the TOTP the app shows and "確認"
    And I enter the one-time password the app shows and click "Register"
    # ⑫
    Then the app is registered
    When I click "☰" and then "Logout"
    Then the next login accepts only the new app's one-time password, not the old app's
