# Source: the "Multi-Factor Authentication : App" screen in email-change.en.txt 【If you cannot
# confirm a valid one-time password】 ③ and app-reset.en.txt ③: "Trust this browser".
# How long the trust lasts is not in the manuals: the profile's trust_browser.duration_seconds.
@manual_email_change
Feature: Trust this browser
  Ticking "Trust this browser" with the one-time password lets that browser skip the second
  factor on later logins, for the profile's trust period, until a reset.

  @TRUST_BROWSER
  Scenario: A trusted browser logs in without a one-time password, another browser does not
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I tick "Trust this browser", enter the one-time password the app shows and click "Login"
    Then I am logged in
    When I click "☰" and then "Logout"
    And I log in again with my ECS-ID/SPS-ID and password
    Then I am logged in without a one-time password
    When I use another browser
    And I log in again with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password

  @TRUST_BROWSER
  Scenario: Without the tick the browser is not trusted
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click the "Multi-Factor Authentication : Email" login link
    And I open the one-time password mail whose subject and sender match and copy the one-time password
    And I enter the one-time password from the mail and click "Login"
    And I click "☰" and then "Logout"
    And I log in again with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password

  @TRUST_BROWSER_EXPIRY
  Scenario: The trust ends after the profile's trust period
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the browser is one the user trusted
    When the profile's trust period passes but for one minute
    And I log in again with my ECS-ID/SPS-ID and password
    Then I am logged in without a one-time password
    When I click "☰" and then "Logout"
    And the profile's trust period passes
    And I log in again with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password

  @TRUST_BROWSER_REVOKED_BY_RESET @RESET_CONFIRMATION_MAIL @manual_app_reset
  Scenario: Initializing the settings revokes the trusted browsers
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered a private address for email-authentication
    And the browser is one the user trusted
    When I use another browser
    And I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I click "Click here For Initial Setup or Setup Again"
    And I enter my ECS-ID/SPS-ID and password again and click "Login"
    And I click "Initialize"
    And I open the confirmation code mail whose subject and sender match and copy the confirmation code
    And I paste the confirmation code and click "Confirm"
    And I register my private address again
    And I go back to the first browser
    And I log in again with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password
