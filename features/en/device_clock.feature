# Source: app-reset.en.txt Step1 "Check if the device's clock is correct … If the device's clock
# is incorrect, the password cannot be calculated accurately, and you will be unable to log in
# … After adjusting the time, please log in again. If successful, no further reset is
# required."; and ⑪ "If the time on your smartphone is incorrect, you will not be able to
# authenticate". How far off a clock may be is the profile's TOTP window (RFC 6238 §5.2).
@manual_app_reset
Feature: The device clock
  The app computes its one-time password from the device's clock. A clock off by more than the
  profile's window gives codes the portal refuses; set right, it gives codes the portal accepts.

  @TOTP_WINDOW
  Scenario: A wrong device clock gives a refused code, the corrected clock an accepted one
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    And the app has shown several new one-time passwords since then
    When the device clock is 5 minutes fast
    And I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I enter the one-time password the app shows and click "Login"
    Then the one-time password is refused
    When I set the device clock right
    And I log in again with my ECS-ID/SPS-ID and password
    And I enter the one-time password the app shows and click "Login"
    Then I am logged in

  @TOTP_WINDOW @TOTP_ALGORITHM
  Scenario Outline: A code from a clock <offset> time steps off is accepted only inside the window
    # Offsets are whole TOTP periods; the expected verdict is computed from the profile's
    # totp.window_past_steps and totp.window_future_steps.
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    And the app has shown several new one-time passwords since then
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I enter the one-time password of an app whose clock is <offset> time steps off and click "Login"
    Then the portal accepts it exactly when the offset is inside the profile's window

    Examples:
      | offset |
      | -2     |
      | -1     |
      | 0      |
      | +1     |
      | +2     |
